"""``python -m sealtrail``: the ``sealtrail`` command line."""

from sealtrail.api.cli import main

if __name__ == "__main__":
    main(prog_name="sealtrail")
