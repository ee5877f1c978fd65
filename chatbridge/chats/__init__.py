"""Chat sessions: the Redis session store and the chat service built on it."""
