# conf/: the documented configuration and the web-server configurations the integration tests use.
EXTRA_DIST += conf/songscope.conf conf/nginx/songscope.conf
