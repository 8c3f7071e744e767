//! Sealing the Temporal headers a client sends, as its payloads are.
//!
//! The client SDK runs the codec over a call's arguments but not over its headers, while the
//! worker opens every payload of a task, headers included, and outside dev refuses one that is
//! not sealed. A header written in plaintext (the trace context the OpenTelemetry plugin puts
//! in `_tracer-data`) would reach workflow code as a refused marker and the trace would break
//! there. [`SealHeaders`] is a client interceptor that seals every header field still in
//! plaintext; it must run after whatever writes headers (register it after the plugin that
//! does: plugins add their interceptors in registration order, the first one outermost).

use crate::{EncryptionCodec, is_sealed};
use futures::future::BoxFuture;
use temporalio_client::{
    ClientInterceptor, Next, QueryWorkflowInput, QueryWorkflowOutput, SignalWithStartWorkflowInput,
    SignalWorkflowInput, StartWorkflowInput, StartWorkflowOutput, StartWorkflowUpdateInput,
    StartWorkflowUpdateOutput, UpdateWithStartWorkflowInput, UpdateWithStartWorkflowOutput,
    errors::{
        WorkflowInteractionError, WorkflowQueryError, WorkflowStartError, WorkflowUpdateError,
        WorkflowUpdateWithStartError,
    },
};
use temporalio_common::protos::temporal::api::common::v1::Header;

/// A client interceptor sealing every plaintext header field with the codec (see the module).
#[derive(Clone, Debug)]
pub struct SealHeaders(pub EncryptionCodec);

impl SealHeaders {
    /// Seal `header`'s plaintext fields in place. A field that cannot be sealed (no randomness
    /// for a nonce) is dropped rather than sent in plaintext: headers carry only context.
    pub fn seal(&self, header: &mut Option<Header>) {
        let Some(header) = header else { return };
        header.fields.retain(|name, payload| {
            if is_sealed(payload) {
                return true;
            }
            match self.0.seal(payload) {
                Ok(sealed) => {
                    *payload = sealed;
                    true
                }
                Err(e) => {
                    tracing::warn!(header = %name, error = %e, "a header could not be sealed; dropped");
                    false
                }
            }
        });
    }
}

type Fut<'a, T, E> = BoxFuture<'a, Result<T, E>>;

impl ClientInterceptor for SealHeaders {
    fn start_workflow<'a>(
        &'a self,
        mut input: StartWorkflowInput,
        next: Next<'a, StartWorkflowInput, Fut<'a, StartWorkflowOutput, WorkflowStartError>>,
    ) -> Fut<'a, StartWorkflowOutput, WorkflowStartError> {
        self.seal(&mut input.options.header);
        next.run(input)
    }

    fn signal_with_start_workflow<'a>(
        &'a self,
        mut input: SignalWithStartWorkflowInput,
        next: Next<
            'a,
            SignalWithStartWorkflowInput,
            Fut<'a, StartWorkflowOutput, WorkflowStartError>,
        >,
    ) -> Fut<'a, StartWorkflowOutput, WorkflowStartError> {
        self.seal(&mut input.options.header);
        next.run(input)
    }

    fn signal_workflow<'a>(
        &'a self,
        mut input: SignalWorkflowInput,
        next: Next<'a, SignalWorkflowInput, Fut<'a, (), WorkflowInteractionError>>,
    ) -> Fut<'a, (), WorkflowInteractionError> {
        self.seal(&mut input.options.header);
        next.run(input)
    }

    fn query_workflow<'a>(
        &'a self,
        mut input: QueryWorkflowInput,
        next: Next<'a, QueryWorkflowInput, Fut<'a, QueryWorkflowOutput, WorkflowQueryError>>,
    ) -> Fut<'a, QueryWorkflowOutput, WorkflowQueryError> {
        self.seal(&mut input.options.header);
        next.run(input)
    }

    fn start_workflow_update<'a>(
        &'a self,
        mut input: StartWorkflowUpdateInput,
        next: Next<
            'a,
            StartWorkflowUpdateInput,
            Fut<'a, StartWorkflowUpdateOutput, WorkflowUpdateError>,
        >,
    ) -> Fut<'a, StartWorkflowUpdateOutput, WorkflowUpdateError> {
        self.seal(&mut input.options.header);
        next.run(input)
    }

    fn update_with_start_workflow<'a>(
        &'a self,
        mut input: UpdateWithStartWorkflowInput,
        next: Next<
            'a,
            UpdateWithStartWorkflowInput,
            Fut<'a, UpdateWithStartWorkflowOutput, WorkflowUpdateWithStartError>,
        >,
    ) -> Fut<'a, UpdateWithStartWorkflowOutput, WorkflowUpdateWithStartError> {
        self.seal(&mut input.options.start_header);
        self.seal(&mut input.options.update_header);
        next.run(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::temporal::api::common::v1::Payload;

    #[test]
    fn plaintext_fields_are_sealed_and_open_back_sealed_ones_are_left() {
        let codec = EncryptionCodec::new(
            crate::PayloadKeys::parse("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap(),
        );
        let plain = Payload {
            metadata: [("encoding".to_owned(), b"json/plain".to_vec())]
                .into_iter()
                .collect(),
            data: br#"{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}"#
                .to_vec(),
            ..Default::default()
        };
        let already = codec.seal(&plain).unwrap();
        let mut header = Some(Header {
            fields: [
                ("_tracer-data".to_owned(), plain.clone()),
                ("other".to_owned(), already.clone()),
            ]
            .into_iter()
            .collect(),
        });
        SealHeaders(codec.clone()).seal(&mut header);
        let fields = header.unwrap().fields;
        assert!(is_sealed(&fields["_tracer-data"]));
        assert_eq!(fields["other"], already, "sealed once, not twice");
        let strict = codec.refusing_unsealed();
        assert_eq!(strict.open(fields["_tracer-data"].clone()).unwrap(), plain);
        let mut none = None;
        SealHeaders(strict).seal(&mut none);
        assert!(none.is_none());
    }
}
