//! Generated protobuf and gRPC code for `accord.v1` (see `proto/`), and its encoded descriptor set.
#![allow(missing_docs, clippy::all, clippy::pedantic)]

tonic::include_proto!("accord.v1");

/// Encoded `FileDescriptorSet` of `proto/accord/v1/*.proto` (reflection, JSON mapping).
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("accord_descriptor");
