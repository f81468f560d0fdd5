"""Put first on PYTHONPATH by .ci/run's asyncio leg: ``import uvloop`` fails, so the server
(in the test process and in every ``taskcancel serve`` it starts) runs asyncio's own loop."""

raise ModuleNotFoundError("this CI leg runs asyncio's own event loop, not uvloop")
