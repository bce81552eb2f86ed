//! The composer: the multi-line input at the bottom of the app (being written).
