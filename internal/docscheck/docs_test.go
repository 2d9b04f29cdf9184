package docscheck

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/xcallsh/xcallsh/xcall"
)

// The files checked: everything a reader of the repository reads.
var checkedExt = []string{".go", ".md", ".lua", ".txtar", ".toml"}

// outside are citations of things that are not in the repository: design
// notes kept elsewhere and issue-tracker numbers. The patterns are spelt in
// pieces so that this file does not match them itself.
var outside = []struct {
	re   *regexp.Regexp
	what string
}{
	{regexp.MustCompile(`\.\./` + `shared`), "a path outside the repository"},
	{regexp.MustCompile(`(?i)kernel` + `-facts`), "notes outside the repository (cite the kernel's files or docs/kernel.md)"},
	{regexp.MustCompile(`(^|[^A-Za-z])(` + `API|FORMATS|STYLE|DESIGN` + `)\.md`), "a file outside the repository"},
	{regexp.MustCompile(`(^|[^A-Za-z])(` + `issue|Issue` + `) #?[0-9]+`), "an issue-tracker number"},
}

// pending are lines, in files other work owns at the time of writing, that
// still cite something outside the repository. Each entry is a file and a
// piece of the offending line; delete the entry when the line is fixed (an
// entry that matches nothing fails the test, so none is forgotten).
var pending = []struct{ file, text string }{}

// docsPath is a docs/ path as a comment or a page cites it, with an
// optional #anchor: it starts a word and ends with a letter or digit (so a
// sentence's full stop is not part of it).
var docsPath = regexp.MustCompile(`(^|[^A-Za-z0-9_./-])(docs/[A-Za-z0-9_./-]*[A-Za-z0-9_])(#[A-Za-z0-9_-]+)?`)

// mdLink is an inline Markdown link or image: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

type file struct {
	rel   string // slash-separated, from the repository root
	lines []string
}

// repo returns the repository root and its checked files, sorted by path.
func repo(t *testing.T) (string, []file) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	var files []file
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "fuzz") {
				return filepath.SkipDir
			}
			return nil
		}
		if !slices.Contains(checkedExt, filepath.Ext(p)) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, file{rel: filepath.ToSlash(rel), lines: strings.Split(string(data), "\n")})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.rel, b.rel) })
	if len(files) < 50 {
		t.Fatalf("only %d files found under %s", len(files), root)
	}
	return root, files
}

const self = "internal/docscheck/docs_test.go"

// isPending reports whether line of f is a known pending one, and marks
// the entry used.
func isPending(f, line string, used []bool) bool {
	for i, p := range pending {
		if p.file == f && strings.Contains(line, p.text) {
			used[i] = true
			return true
		}
	}
	return false
}

// TestNoOutsideCitations fails when a file cites notes that are not in the
// repository, or an issue-tracker number.
func TestNoOutsideCitations(t *testing.T) {
	_, files := repo(t)
	used := make([]bool, len(pending))
	for _, f := range files {
		if f.rel == self {
			continue
		}
		for i, line := range f.lines {
			for _, o := range outside {
				if o.re.MatchString(line) && !isPending(f.rel, line, used) {
					t.Errorf("%s:%d: cites %s: %s", f.rel, i+1, o.what, strings.TrimSpace(line))
				}
			}
		}
	}
	for i, u := range used {
		if !u {
			t.Errorf("pending entry %s %q matches no line: delete it", pending[i].file, pending[i].text)
		}
	}
}

// TestDocsPathsExist fails when a file cites a docs/ path that does not
// exist, or an anchor its Markdown page does not have.
func TestDocsPathsExist(t *testing.T) {
	root, files := repo(t)
	anchors := anchorCache{root: root}
	n := 0
	for _, f := range files {
		for i, line := range f.lines {
			for _, m := range docsPath.FindAllStringSubmatch(line, -1) {
				n++
				if err := anchors.resolve(m[2], strings.TrimPrefix(m[3], "#")); err != nil {
					t.Errorf("%s:%d: %v", f.rel, i+1, err)
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d docs/ citations found: is the pattern broken?", n)
	}
}

// TestMarkdownLinks fails when a relative link in a Markdown file points at
// nothing in the repository, or at an anchor that is not there.
func TestMarkdownLinks(t *testing.T) {
	root, files := repo(t)
	anchors := anchorCache{root: root}
	used := make([]bool, len(pending))
	n := 0
	for _, f := range files {
		if path.Ext(f.rel) != ".md" {
			continue
		}
		fence := false
		for i, line := range f.lines {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				fence = !fence
			}
			if fence {
				continue
			}
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				n++
				p, anchor, _ := strings.Cut(target, "#")
				if p == "" {
					p = f.rel
				} else {
					p = path.Join(path.Dir(f.rel), p)
				}
				if p == ".." || strings.HasPrefix(p, "../") {
					if !isPending(f.rel, line, used) {
						t.Errorf("%s:%d: link %s leaves the repository", f.rel, i+1, target)
					}
					continue
				}
				if err := anchors.resolve(p, anchor); err != nil {
					t.Errorf("%s:%d: link %s: %v", f.rel, i+1, target, err)
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d relative links found: is the pattern broken?", n)
	}
}

// anchorCache resolves paths from the repository root and the anchors of
// Markdown files.
type anchorCache struct {
	root string
	m    map[string][]string // file -> its anchors
}

func (c *anchorCache) resolve(p, anchor string) error {
	st, err := os.Stat(filepath.Join(c.root, filepath.FromSlash(p)))
	if err != nil {
		return fmt.Errorf("%s does not exist", p)
	}
	if anchor == "" {
		return nil
	}
	if st.IsDir() || path.Ext(p) != ".md" {
		return fmt.Errorf("%s#%s: an anchor in a file that is not Markdown", p, anchor)
	}
	if c.m == nil {
		c.m = map[string][]string{}
	}
	as, ok := c.m[p]
	if !ok {
		data, err := os.ReadFile(filepath.Join(c.root, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		as = Anchors(string(data))
		c.m[p] = as
	}
	if !slices.Contains(as, anchor) {
		return fmt.Errorf("%s has no heading with anchor #%s", p, anchor)
	}
	return nil
}

// Anchors lists the anchors GitHub gives the headings of a Markdown text
// (ATX "## Title" and setext "Title" over "===" or "---"), outside code
// fences, in order: the heading lowercased, everything but letters, digits,
// spaces, '-' and '_' dropped, spaces turned into '-'; a repeated anchor
// gets "-1", "-2", ... appended.
func Anchors(md string) []string {
	var out []string
	seen := map[string]int{}
	add := func(title string) {
		a := slug(title)
		if k := seen[a]; k > 0 {
			seen[a] = k + 1
			a += "-" + strconv.Itoa(k)
		} else {
			seen[a] = 1
		}
		out = append(out, a)
	}
	sc := bufio.NewScanner(strings.NewReader(md))
	fence := false
	prev := ""
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "```") {
			fence = !fence
			prev = ""
			continue
		}
		if fence {
			continue
		}
		switch {
		case strings.HasPrefix(line, "#"):
			level := len(line) - len(strings.TrimLeft(line, "#"))
			if level <= 6 && (len(line) == level || line[level] == ' ') {
				add(strings.TrimRight(strings.TrimSpace(line[level:]), "# "))
				prev = ""
				continue
			}
		case prev != "" && trim != "" && (strings.Trim(trim, "=") == "" || strings.Trim(trim, "-") == "") &&
			!strings.HasPrefix(prev, "|") && !strings.HasPrefix(prev, "- "):
			add(prev)
			prev = ""
			continue
		}
		prev = trim
	}
	return out
}

func slug(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestAnchors(t *testing.T) {
	md := "# The model\n\n## Timing (`[timing]`, ns)\n\n```\n## not a heading\n```\n" +
		"Setext title\n------------\n\n| a |\n|---|\n\n## arm64: ICC_SGI1R_EL1\n## Timing (`[timing]`, ns)\n#not-a-heading\n"
	got := strings.Join(Anchors(md), " ")
	want := "the-model timing-timing-ns setext-title arm64-icc_sgi1r_el1 timing-timing-ns-1"
	if got != want {
		t.Errorf("Anchors:\ngot  %s\nwant %s", got, want)
	}
}

// layer is each package's place in ARCHITECTURE.md's layers: a package may
// import only packages of this module with a lower layer. Packages under
// cmd/ sit on top and are not checked.
var layer = map[string]int{
	"emu":                    0,
	"emu/memory":             0,
	"machines":               0,
	"scripts":                0,
	"luabind/internal/luapm": 0,
	"irqchip":                1,
	"xcall":                  2,
	"luabind":                3,
	"scftorture":             3,
	"internal/bench":         4,
	// The command's own packages sit on top; one is placed so that it
	// keeps to the memory models and imports no kernel.
	"cmd/xcallsh/internal/litmus": 5,
}

// noHostClock are the packages that must not read the host clock
// (ARCHITECTURE.md's determinism rules): they may not import package time.
var noHostClock = map[string]bool{"emu": true, "emu/memory": true, "irqchip": true, "xcall": true, "scftorture": true}

// TestImportRules fails when a package imports one at its own layer or
// above, or a package of the module the layers do not place; when code
// that ships imports package testing; or when a package of noHostClock
// imports package time.
func TestImportRules(t *testing.T) {
	root, _ := repo(t)
	const module = "github.com/xcallsh/xcallsh/"
	names := make([]string, 0, len(layer))
	for name := range layer {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, pkg := range names {
		paths, err := filepath.Glob(filepath.Join(root, pkg, "*.go"))
		if err != nil || len(paths) == 0 {
			t.Fatalf("package %s: no Go files (%v)", pkg, err)
		}
		for _, p := range paths {
			if strings.HasSuffix(p, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				ip, _ := strconv.Unquote(imp.Path.Value)
				rel, _ := filepath.Rel(root, p)
				switch {
				case ip == "testing":
					t.Errorf("%s imports testing: test code belongs in _test.go files", filepath.ToSlash(rel))
				case ip == "time" && noHostClock[pkg]:
					t.Errorf("%s imports time: %s reads no host clock", filepath.ToSlash(rel), pkg)
				}
				dep, ok := strings.CutPrefix(ip, module)
				if !ok {
					continue
				}
				l, known := layer[dep]
				switch {
				case !known:
					t.Errorf("%s imports %s, which ARCHITECTURE.md's layers do not place", filepath.ToSlash(rel), dep)
				case l >= layer[pkg]:
					t.Errorf("%s imports %s: %s (layer %d) may import only lower layers, and %s is layer %d",
						filepath.ToSlash(rel), dep, pkg, layer[pkg], dep, l)
				}
			}
		}
	}
}

// TestPointsDocumented fails when a hook point (xcall.Points) is missing
// from docs/hotplug.md: the Points table names each one, or a cpuhp state
// of the states table.
func TestPointsDocumented(t *testing.T) {
	root, _ := repo(t)
	data, err := os.ReadFile(filepath.Join(root, "docs", "hotplug.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	states, points, ok := strings.Cut(doc, "\n## Points\n")
	if !ok {
		t.Fatal(`docs/hotplug.md has no "## Points" section`)
	}
	if len(xcall.Points) < 20 {
		t.Fatalf("only %d points", len(xcall.Points))
	}
	for _, p := range xcall.Points {
		if state, ok := strings.CutPrefix(p, "cpuhp:"); ok {
			if !strings.Contains(states, "`"+state+"`") {
				t.Errorf("point %s: state %s is not in docs/hotplug.md's states table", p, state)
			}
			continue
		}
		// "`stop_machine:PREPARE`, `:DISABLE_IRQ`" names both.
		i := strings.LastIndexByte(p, ':')
		if !strings.Contains(points, "`"+p+"`") &&
			!(strings.Contains(points, "`"+p[:i+1]) && strings.Contains(points, "`"+p[i:]+"`")) {
			t.Errorf("point %s is not in docs/hotplug.md's Points table", p)
		}
	}
}
