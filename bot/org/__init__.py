"""The sales org: people, roles, managers, coaches and quotas."""
