//! The Centra GraphQL Integration API source.
