"""The transcript archive: every logged chat event, kept in the SQL database.

Chats outlive Redis and Connect's participant API here. Events reach the archive through a
Redis stream that the event log and the chat service write to (the feed, chatbridge.chats.feed);
chatbridge.streams.archiver drains it.
"""
