#!/bin/sh
# Prints the accounts to analyse (a JSON array) from the file named by the
# input's "source" (relative to the example), default data/accounts.json.
set -eu
source=$(sed -n 's/.*"source":"\([^"]*\)".*/\1/p')
exec cat "${source:-data/accounts.json}"
