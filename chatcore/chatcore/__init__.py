"""What every chat service needs. Import names from the module that defines them."""

__version__ = "0.1.0"
