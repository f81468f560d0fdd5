"""The client and its transports: ``Client``/``AsyncClient`` (``_client``), the in-memory
transport over a store, and the signing HTTP transports (``_http``)."""
