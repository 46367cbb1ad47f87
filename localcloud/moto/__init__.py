"""longhaul's local AWS API: moto 5.2.5 with the documented patches the amazon.aws modules need.

`python -m localcloud.moto --port 0` serves on 127.0.0.1 and prints the URL it listens on.
"""
