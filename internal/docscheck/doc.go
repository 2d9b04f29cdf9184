// Package docscheck holds no code: its tests check that the repository
// explains itself. Every docs/ path a file cites exists, every relative link
// between the Markdown files resolves (anchors included), nothing cites a
// file outside the repository or an issue tracker, the packages keep the
// import rules of ARCHITECTURE.md, and every hook point is documented.
package docscheck
