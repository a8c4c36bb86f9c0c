
ã
fuzz.example/ledgerpledge-2€‹»Ë"
2026-01-20ò¬
P2PL-1DA"money*
	250000.50EUR
2026-01-202	
G1100:GTB

2026-01-01
2028-12-31J110RexternalXb
P1
0USD
2026-01-20j!
Pledging conference
2026-01-20,application/vnd.accord.statement.v1+protobuf„
@›şMşC4÷Tâ‡±‰bdá?Ø
á¾L¨M¸d›ˆL(] 3SÙê¼uçÙh¹©Â9,Rı`ë¾xşu8ó26|Iw@6a3803d5f059902a1c6dafbc9ba4729212f7caac08634cc3ae76b27529f03827