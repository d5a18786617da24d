# core/net: outgoing fetches and the address filter they obey
core_libsscore_a_SOURCES += \
	core/net/addrfilter.c core/net/addrfilter.h \
	core/net/cidr.c core/net/cidr.h \
	core/net/fetch.c core/net/fetch.h \
	core/net/origin.c core/net/origin.h
