"""Notifications: the message notifier plugins receive, and the outbox that delivers it."""
