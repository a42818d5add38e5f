"""Trusted time and chain anchoring for checkpoints.

* ``tsa`` — RFC 3161 client (failover, full verification) and token verifier;
* ``devtsa`` — the built-in development TSA (development and tests only);
* ``timestamping`` — every checkpoint timestamped, or visibly pending and retried;
* ``contract``, ``records``, ``chain`` — the anchoring contract's artifact and the EVM client;
* ``worker`` — the anchoring state machine per checkpoint;
* ``store`` — timestamps' and anchors' storage protocols (``sqlite_store``, ``mongo_store``).
"""
