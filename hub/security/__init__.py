"""Security: users, sessions and tokens, login throttling, the audit trail, secret redaction."""
