"""The hand-written asyncio I/O shells; ``atmosphere._sync`` is generated from them."""
