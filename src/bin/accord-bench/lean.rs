//! The lean client the load goes through: plain tonic channels (no layers of the checking client),
//! requests encoded before the clock starts and moved into the call, replies decoded into messages that
//! keep only what the load generator counts (a receipt's `duplicate` flag), every other field skipped
//! without allocating. The client then costs about what a bare tonic client costs per call, so the CPU
//! the bench reports is the server's.
use std::marker::PhantomData;

use anyhow::{Context, Result};
use bytes::{BufMut, Bytes};
use http::uri::PathAndQuery;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::Status;

/// A receipt reduced to the one field the load generator checks.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReceiptFlag {
    /// True when the envelope was already in the log (then the server did no work for it).
    #[prost(bool, tag = "8")]
    pub(crate) duplicate: bool,
}

/// SubmitResponse, reduced.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SubmitReply {
    #[prost(message, optional, tag = "1")]
    pub(crate) receipt: Option<ReceiptFlag>,
}

/// SubmitBatchResponse, reduced.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct BatchReply {
    #[prost(message, repeated, tag = "1")]
    pub(crate) receipts: Vec<ReceiptFlag>,
}

/// Any reply whose content the load does not need (GetLogInfo, GetInclusionProof): every field skipped.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Skip {}

/// Pre-encoded request bytes out, a reduced reply in.
struct LeanCodec<R>(PhantomData<fn() -> R>);

impl<R: prost::Message + Default + 'static> Codec for LeanCodec<R> {
    type Encode = Bytes;
    type Decode = R;
    type Encoder = RawEncoder;
    type Decoder = LeanDecoder<R>;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> LeanDecoder<R> {
        LeanDecoder(PhantomData)
    }
}

/// Writes the pre-encoded message as it is.
struct RawEncoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

struct LeanDecoder<R>(PhantomData<fn() -> R>);

impl<R: prost::Message + Default> Decoder for LeanDecoder<R> {
    type Item = R;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<R>, Status> {
        R::decode(src).map(Some).map_err(|e| Status::internal(format!("reply does not decode: {e}")))
    }
}

/// One connection's client; clone it per task (a clone shares the connection).
#[derive(Clone)]
pub(crate) struct Lean(tonic::client::Grpc<Channel>);

/// The clients of a run, one per connection.
pub(crate) type Clients = [Lean];

/// `n` connections to `url`: plain tonic channels with the product client's transport settings
/// ([`accord::client::channel`]: TCP_NODELAY and the server's HTTP/2 window sizes; no tower layers, no
/// proof checking), so that flow control behaves as for a real client.
pub(crate) async fn connect(url: &str, n: usize) -> Result<Vec<Lean>> {
    let mut out = Vec::new();
    for _ in 0..n.max(1) {
        let ch = accord::client::channel(url).await.with_context(|| format!("connecting to {url}"))?;
        out.push(Lean(tonic::client::Grpc::new(ch).max_decoding_message_size(usize::MAX)));
    }
    Ok(out)
}

/// A request encoded once, before the clock starts.
pub(crate) fn encode(m: &impl prost::Message) -> Bytes {
    Bytes::from(m.encode_to_vec())
}

impl Lean {
    async fn call<R: prost::Message + Default + 'static>(
        &mut self,
        path: &'static str,
        req: Bytes,
    ) -> Result<R, Status> {
        self.0.ready().await.map_err(|e| Status::unavailable(format!("connection: {e}")))?;
        let codec = LeanCodec::<R>(PhantomData);
        Ok(self.0.unary(tonic::Request::new(req), PathAndQuery::from_static(path), codec).await?.into_inner())
    }
    /// SubmitBatch of a pre-encoded SubmitBatchRequest.
    pub(crate) async fn submit_batch(&mut self, req: Bytes) -> Result<BatchReply, Status> {
        self.call("/accord.v1.LedgerService/SubmitBatch", req).await
    }
    /// Submit of a pre-encoded SubmitRequest.
    pub(crate) async fn submit(&mut self, req: Bytes) -> Result<SubmitReply, Status> {
        self.call("/accord.v1.LedgerService/Submit", req).await
    }
    /// GetLogInfo (the no-op RPC: no storage).
    pub(crate) async fn get_log_info(&mut self) -> Result<Skip, Status> {
        self.call("/accord.v1.LedgerService/GetLogInfo", Bytes::new()).await
    }
    /// GetInclusionProof of a pre-encoded GetInclusionProofRequest.
    pub(crate) async fn get_inclusion_proof(&mut self, req: Bytes) -> Result<Skip, Status> {
        self.call("/accord.v1.LedgerService/GetInclusionProof", req).await
    }
}
