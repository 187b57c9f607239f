# mod_remote_session: see README.md. Targets are those of INTERFACE.md plus
# the checks CI runs (fuzz, test-asan).

.DEFAULT_GOAL := all
include apxs.mk

PERL       ?= perl
FUZZ_SECS  ?= 30
UNIT_TESTS  = $(patsubst t/unit/%.c,t/unit/%,$(wildcard t/unit/test_*.c))

.PHONY: all deps test unit suite install test-install run fuzz test-asan bench clean

all: deps mod_remote_session.so

deps:
	@sh scripts/deps.sh

# The tests link the archive, so each takes only the objects it uses (the
# httpd-facing ones need symbols that only httpd provides).
src/librs.a: $(RS_OBJS)
	rm -f $@ && ar rcs $@ $(RS_OBJS)

t/unit/%: t/unit/%.c $(wildcard t/unit/*.h) src/librs.a
	$(CC) $(RS_CFLAGS) -It/unit -o $@ $< src/librs.a $(RS_LIBS) $(APR_LIBS)

unit: $(UNIT_TESTS)
	@sh t/unit/run.sh $(UNIT_TESTS)

suite: mod_remote_session.so
	sh t/run-suite.sh

test: deps
	$(MAKE) unit
	$(MAKE) suite

install: all
	sh scripts/install.sh "$(APXS)"

# make install + a2enmod + configtest on a scratch copy of /etc/apache2
test-install: all
	sh scripts/test-install.sh

run: all
	sh scripts/run.sh

fuzz: deps
	sh fuzz/run.sh $(FUZZ_SECS)

test-asan: deps
	sh scripts/test-asan.sh

# performance figures against baselines of the same run (not part of test)
bench: all
	sh bench/bench.sh

clean:
	rm -rf src/*.o src/librs.a *.o *.lo *.la *.slo .libs src/.libs mod_remote_session.so \
	    $(UNIT_TESTS) fuzz/build t/logs t/conf/apache_test_config.pm \
	    t/conf/httpd.conf t/conf/extra.conf t/conf/modperl_inc.pl \
	    t/conf/modperl_startup.pl t/htdocs/index.html t/TEST
