"""What every Slack listener stands on: the request's services, its unit of work, the one error
guard, who is calling, and App Home publishing. Listeners import from here, never from bot.app
(which only builds the app) nor from each other."""
