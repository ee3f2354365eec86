"""Core's built-in hook implementations.

Every module in this package is registered with the plugin host under the
distribution ``blocks-core``, exactly like a plugin's hook module. Modules here
must stay cheap to import: register objects as lazy ``"module:attribute"``
strings and import heavy libraries (torch, h5py) inside command functions.
"""
