"""ChatBridge: a backend-for-frontend for Amazon Connect customer chat."""
