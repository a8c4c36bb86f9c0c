module accord.example/interop

go 1.19

require golang.org/x/mod v0.7.0

// Offline build: use Debian's golang-golang-x-mod-dev sources, never the module proxy.
replace golang.org/x/mod => /usr/share/gocode/src/golang.org/x/mod
