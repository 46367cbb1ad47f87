"""Fixtures of the site tests: the test cloud and one site.yml run (sitecloud.py)."""

from sitecloud import local_cloud, site_run  # noqa: F401 - pytest registers the fixtures imported here
