
y
fuzz.example/ledgertxn-1€ƒÍ"
2026-03-01ŠF
T1DA-GT"
2026-03-01*
150000USD
2026-03-012DA:GTJincoming,application/vnd.accord.statement.v1+protobuf„
@	B¨'€´·­n8«Åk—‡—Öí¼d ×VP­4h(PFuë<›Ò%QaíŠŒ¼SÑdl³æv”¥‰Ê¾R@6a3803d5f059902a1c6dafbc9ba4729212f7caac08634cc3ae76b27529f03827