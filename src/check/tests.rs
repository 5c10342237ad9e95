//! Unit tests of the checks: canned responses that break each rule make its FAIL fire.
