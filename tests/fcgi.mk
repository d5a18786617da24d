# tests/fcgi
