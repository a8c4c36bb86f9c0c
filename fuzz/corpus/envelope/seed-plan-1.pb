
†
fuzz.example/ledgerplan-1€­†Ë"
2026-01-10¢R
PL-1Regional plan

2026-01-01
2028-12-31"USD*
Ssecretariat2

annual<,application/vnd.accord.statement.v1+protobuf„
@¬®£}Õ—&î"#È¦NJŒsc‹¥,:H†$29£Î/Ý‹:ótà[¤ŽŸßÏ
UúÍ6e#„3*?eþ@34750f98bd59fcfc946da45aaabe933be154a4b5094e1c4abf42866505f3c97e