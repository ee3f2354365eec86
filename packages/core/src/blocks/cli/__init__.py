"""Command-line programs: ``blocks`` and the ``fuel-*`` commands.

Every command's ``--help`` imports neither torch nor h5py.
"""
