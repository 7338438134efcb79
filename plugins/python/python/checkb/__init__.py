"""checkb (libtaskotron's successor), as far as taskhost's python
directive provides it: the `check` module and its exceptions."""
