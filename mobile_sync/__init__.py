"""The offline protocol: change log, pull, push, and a reference device client."""
