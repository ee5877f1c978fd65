"""The production profile: ChatBridge installed from requirements.txt alone, with DEBUG off,
behind nginx terminating TLS, driven over https by clients and a browser."""
