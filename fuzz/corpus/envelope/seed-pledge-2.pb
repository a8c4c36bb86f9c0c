
Ç
fuzz.example/ledgerpledge-2€‹»Ë"
2026-01-20ò
P2PL-1DA"money*
	250000.50EUR
2026-01-202	
G1100:GTB

2026-01-01
2028-12-31J110RexternalXj!
Pledging conference
2026-01-20,application/vnd.accord.statement.v1+protobuf„
@?…æÒvÒÎ_×*JÂrµs¡¥­ÜÒñDhtBbLŠàb'h0ôHÔ¦÷ã‰²È¬›øı	VÔ˜®"†(P+¡
@6a3803d5f059902a1c6dafbc9ba4729212f7caac08634cc3ae76b27529f03827