//! A simulator of Centra's GraphQL Integration API, served over real HTTP.
