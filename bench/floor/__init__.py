"""`make bench-floor` (`python -m bench.floor`): what ChatBridge costs over the least its stack
can do, one message and one chat start at a time.

Three chats on the bench's stack, each sending a message and waiting for the echo agent's
answer before the next, in turns:

- direct: the customer straight to the emulator, as the bench's direct path;
- floor: through a bare relay on ChatBridge's own stack (bench.floor.relay: the same server,
  loop, boto3 client and `websockets` upstream, and nothing else);
- bridge: through ChatBridge.

The floor's cost over direct is what the hop itself costs on this host; ChatBridge's cost over
the floor is what its rules cost (the shared Connect budget and the chat's window, checked in
Redis before each call; the event log, written before each delivery; validation, ordering,
acks). With `--senders K`, K chats of a path send at once in each turn. The turns rotate, so
that no path always runs right after another.

Then `--starts` chat starts per path, one at a time in the same rotation: the direct path's
as the bench's (StartChatContact through boto3, CreateParticipantConnection as chatjs makes
it), the bare relay's and ChatBridge's each one HTTP request that makes both calls.

Prints the figures with their ratios to the direct path, and writes floor.json, floor.png and
floor-starts.png (the latency histograms) into --results-dir.
"""
