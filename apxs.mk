# Build rules for mod_remote_session: the objects of src/ are compiled once,
# position-independent, and linked both into the module (through apxs) and
# into the C unit tests and fuzz targets.

APXS        ?= $(shell command -v apxs2 || command -v apxs)
APR_CONFIG  ?= $(shell $(APXS) -q APR_CONFIG 2>/dev/null)
APU_CONFIG  ?= $(shell $(APXS) -q APU_CONFIG 2>/dev/null)

RS_INCLUDES = -Iinclude -Isrc -I$(shell $(APXS) -q INCLUDEDIR) \
              $(shell $(APR_CONFIG) --includes) $(shell $(APU_CONFIG) --includes)
RS_CPPFLAGS = $(shell $(APR_CONFIG) --cppflags)
RS_WARN     = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
RS_CFLAGS   = -g -O2 -fPIC -std=gnu99 $(RS_WARN) $(RS_INCLUDES) $(RS_CPPFLAGS) $(EXTRA_CFLAGS)
RS_LIBS     = -lmemcached -lmemcachedutil -ljansson
APR_LIBS    = $(shell $(APR_CONFIG) --link-ld --libs) $(shell $(APU_CONFIG) --link-ld)

RS_SRCS     = $(wildcard src/*.c)
RS_OBJS     = $(RS_SRCS:.c=.o)
RS_HDRS     = $(wildcard src/*.h include/*.h)

src/%.o: src/%.c $(RS_HDRS)
	$(CC) $(RS_CFLAGS) -c -o $@ $<

mod_remote_session.la: mod_remote_session.c $(RS_OBJS) $(RS_HDRS)
	$(APXS) -c -o $@ -Iinclude -Isrc -Wc,"$(RS_WARN) -std=gnu99 $(EXTRA_CFLAGS)" \
	    $(if $(EXTRA_LDFLAGS),-Wl,"$(EXTRA_LDFLAGS)") \
	    mod_remote_session.c $(RS_OBJS) $(RS_LIBS)

# Replaced by rename, never rewritten in place: a running httpd has it mapped.
mod_remote_session.so: mod_remote_session.la
	cp .libs/mod_remote_session.so $@.tmp && mv -f $@.tmp $@
