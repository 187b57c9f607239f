#!/bin/sh
# The DirectoryIndex of /rq/idx-cgi/: t/cgi-bin/env.cgi (the CGI's working
# directory is its own).
exec /usr/bin/perl ../../../cgi-bin/env.cgi
