# tools/admin
