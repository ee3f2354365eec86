"""Command-line programs: ``blocks`` and the ``fuel-*`` commands, one module per command or command group.

``main`` is the ``blocks`` program; its core subcommands are ``continue_command``
(``blocks continue``), ``checkpoint`` (``blocks checkpoint info``),
``plugins_command`` (``blocks plugins``), ``new_plugin`` (``blocks new-plugin``),
``info`` (``blocks info``) and ``log`` (``blocks log``), each with an
``add_parser(subparsers)`` that ``blocks._builtins.commands`` calls through the
``register_commands`` hook. ``fuel_download``, ``fuel_convert``, ``fuel_info``
and ``fuel_server`` are the ``fuel-*`` programs.

Every command's ``--help`` imports neither torch nor h5py.
"""
