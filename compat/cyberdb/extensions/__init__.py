"""CyberDB's exception classes, kept by name so `except cyberdb.extensions.X` code keeps working."""

from __future__ import annotations


class CyberDBError(RuntimeError):
    """Base class of every cyberdb error."""


class DisconCyberDBError(CyberDBError):
    """No connection: the server refused or dropped it, or the proxy was closed."""


class WrongPasswordCyberDBError(CyberDBError):
    """The server rejected the password (or wants one and none was given)."""


class WrongFilenameCyberDBError(CyberDBError):
    """A backup or data file name is not acceptable (it must end in .cdb)."""


class BackupCyberDBError(CyberDBError):
    """Saving or loading a backup failed (including a refused, unsafe CyberDB 0.9.3 data file)."""


class TypeCyberDBError(CyberDBError):
    """An argument has the wrong type (e.g. a non-int backup cycle)."""


class WrongTableNameCyberDBError(CyberDBError):
    """The table does not exist, already exists, or is of the other type."""


class WrongInputCyberDBError(CyberDBError):
    """An argument has an unacceptable value (e.g. a table name that is not a str, an invalid IP)."""


__all__ = [
    "BackupCyberDBError",
    "CyberDBError",
    "DisconCyberDBError",
    "TypeCyberDBError",
    "WrongFilenameCyberDBError",
    "WrongInputCyberDBError",
    "WrongPasswordCyberDBError",
    "WrongTableNameCyberDBError",
]
