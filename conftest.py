"""Imports made before any test is collected.

The gateway's project directory and its package share a name (``gateway/gateway``). With
``--import-mode=importlib`` pytest names a test ``gateway.tests.test_x`` and, if no module
``gateway`` is loaded yet, loads the directory ``gateway/`` under that name, hiding the
package from every test. Importing the package first keeps the name for it.
"""

import gateway  # noqa: F401
