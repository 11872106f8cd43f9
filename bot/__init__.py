"""coachbot: a self-hosted Slack coaching bot for sales teams."""
