"""What SQS accepts, in one place: every other module imports these.

AWS documents each of them; the in-memory SQS (``sqs_workers.memory``)
enforces the same numbers on its own, as a server would.
"""

from __future__ import annotations

# Entries per SendMessageBatch, DeleteMessageBatch and
# ChangeMessageVisibilityBatch call, and messages per ReceiveMessage.
MAX_BATCH_ENTRIES = 10

# Bytes of one message (body plus attributes), and of one batch request.
MAX_MESSAGE_BYTES = 1024 * 1024

# A message stays invisible at most this long after it was received.
MAX_VISIBILITY_SECONDS = 12 * 60 * 60

# The longest DelaySeconds SQS takes on a send.
MAX_DELAY_SECONDS = 15 * 60

# The longest WaitTimeSeconds of a long poll.
MAX_WAIT_SECONDS = 20
