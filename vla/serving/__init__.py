"""Policy server (``server.py``, needs torch via the policy) and robot-side client (``client.py``,
numpy + msgpack + websockets only). This package file imports nothing so the client stays light.
"""
