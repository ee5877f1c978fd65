from playwright.sync_api import expect

# expect() waits for what it checks; its 5 s default is a failure guard too tight for a busy
# machine. Every wait ends as soon as its condition holds, so a generous guard costs nothing.
expect.set_options(timeout=15_000)
