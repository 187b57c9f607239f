#!/bin/sh
# t/37: the handler of .php files under /rqphp/ (Action, see require.conf.in):
# php-cgi finds the script through PATH_TRANSLATED and REDIRECT_URL.
exec /usr/bin/php-cgi -d cgi.force_redirect=0
