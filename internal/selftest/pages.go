package selftest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// maxPages bounds a page walk so a cursor that never ends fails instead of looping.
const maxPages = 10000

// principal is who a case's request speaks for, as Env.Rows needs it: the case's role, or ""
// when the request carries no Authorization header (anonymous).
func (x *expander) principal(c *Case) string {
	for k, v := range c.Request.Headers {
		if strings.EqualFold(k, "Authorization") {
			if s, err := x.expandString(v); err == nil && s != "" {
				return x.role
			}
		}
	}
	return ""
}

// checkPages follows next_cursor from the first page to the last, then holds what came back
// to every list parameter the request sent: the ids seen (each once; with MatchInMemory in
// the order) against the rows Env.Rows computes in memory, the page sizes against limit, the
// total against count, each row's fields against fields and expand (checkRows).
func (r *Runner) checkPages(ctx context.Context, first *http.Request, body any, pc *PageCheck, who string) []string {
	pages, err := r.walkPages(ctx, first, body)
	if err != nil {
		return []string{"pages: " + err.Error()}
	}
	var items []any
	for _, p := range pages {
		items = append(items, p...)
	}
	seen := ids(items)
	var out []string
	where := map[string]int{}
	for i, id := range seen {
		if at, dup := where[id]; dup {
			out = append(out, fmt.Sprintf("pages: row %s was listed twice (positions %d and %d)", id, at+1, i+1))
		}
		where[id] = i
	}
	want, err := r.Env.Rows(ctx, who, first.URL.RequestURI())
	if err != nil {
		return append(out, "pages: "+err.Error())
	}
	out = append(out, checkCount(first, body, len(want))...)
	out = append(out, checkPageSizes(first, pages)...)
	missing, extra := difference(want, seen), difference(seen, want)
	if len(missing) > 0 {
		out = append(out, fmt.Sprintf("pages: %d row(s) the query selects were never listed: %s", len(missing), short(missing)))
	}
	if len(extra) > 0 {
		out = append(out, fmt.Sprintf("pages: %d listed row(s) the query does not select: %s", len(extra), short(extra)))
	}
	if pc.MatchInMemory && len(out) == 0 && !slices.Equal(seen, want) {
		i := 0
		for i < len(seen) && seen[i] == want[i] {
			i++
		}
		out = append(out, fmt.Sprintf("pages: the order differs from the sort evaluated in memory at row %d: listed %s, expected %s", i+1, seen[i], want[i]))
	}
	return append(out, r.checkRows(ctx, first, items, who)...)
}

// checkCount: with count=true the first page's total is the number of rows the query
// selects; without it there is no total.
func checkCount(first *http.Request, body any, selected int) []string {
	total, has := lookupPath(body, "total")
	asked, _ := strconv.ParseBool(first.URL.Query().Get("count"))
	switch {
	case asked && !has:
		return []string{"pages: count=true was sent but the first page has no total"}
	case !asked && has:
		return []string{fmt.Sprintf("pages: the first page has a total (%v) that count=true did not ask for", total)}
	case has && fmt.Sprint(total) != strconv.Itoa(selected):
		return []string{fmt.Sprintf("pages: total says %v, the query selects %d", total, selected)}
	}
	return nil
}

// checkPageSizes: with limit=N every page holds at most N rows, and every page but the last
// exactly N (a short page before the end would be a page that dropped rows).
func checkPageSizes(first *http.Request, pages [][]any) []string {
	limit, err := strconv.Atoi(first.URL.Query().Get("limit"))
	if err != nil {
		return nil
	}
	for i, p := range pages {
		if len(p) > limit || (len(p) < limit && i < len(pages)-1 && len(pages[i+1]) > 0) {
			return []string{fmt.Sprintf("pages: page %d has %d rows, limit=%d asks for %d per page", i+1, len(p), limit, limit)}
		}
	}
	return nil
}

// walkPages collects the items of the first page and of every page its cursors (or page
// numbers) lead to.
func (r *Runner) walkPages(ctx context.Context, first *http.Request, body any) ([][]any, error) {
	var pages [][]any
	seen := map[string]bool{}
	for page := 1; ; page++ {
		items, _ := lookupPath(body, "items")
		list, ok := items.([]any)
		if !ok {
			return nil, fmt.Errorf("page %d has no items list", page)
		}
		if page > 1 && len(list) > 0 && !slices.ContainsFunc(ids(list), func(id string) bool { return !seen[id] }) {
			return nil, fmt.Errorf("page %d lists only rows earlier pages listed: the %s parameter did not move on", page, pageParam(first))
		}
		for _, id := range ids(list) {
			seen[id] = true
		}
		pages = append(pages, list)
		param, value := nextParam(first, body, page, len(list))
		if param == "" {
			return pages, nil
		}
		if page == maxPages {
			return nil, fmt.Errorf("still another page after %d", maxPages)
		}
		var err error
		if body, err = r.nextPage(ctx, first, param, value); err != nil {
			return nil, fmt.Errorf("page %d: %w", page+1, err)
		}
	}
}

func pageParam(first *http.Request) string {
	if first.URL.Query().Has("page") {
		return "page"
	}
	return "cursor"
}

func ids(items []any) []string {
	out := make([]string, len(items))
	for i, it := range items {
		id, _ := lookupPath(it, "id")
		out[i] = fmt.Sprint(id)
	}
	return out
}

// nextParam says how to ask for the page after this one: cursor=<next_cursor>, or with
// page numbers (?page=N) page=N+1 until a page comes back empty. "" when this was the last.
func nextParam(first *http.Request, body any, page, items int) (string, string) {
	if n, err := strconv.Atoi(first.URL.Query().Get("page")); err == nil {
		if items == 0 {
			return "", ""
		}
		return "page", strconv.Itoa(n + page)
	}
	next, _ := lookupPath(body, "next_cursor")
	if cursor, _ := next.(string); cursor != "" {
		return "cursor", cursor
	}
	return "", ""
}

func (r *Runner) nextPage(ctx context.Context, first *http.Request, param, value string) (any, error) {
	u := *first.URL
	q := u.Query()
	q.Set(param, value)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header = first.Header.Clone()
	resp, err := r.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	_ = dec.Decode(&body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d%s", resp.StatusCode, hint(body))
	}
	return body, nil
}

// difference lists the ids of a that b lacks.
func difference(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, id := range b {
		in[id] = true
	}
	var out []string
	for _, id := range a {
		if !in[id] {
			out = append(out, id)
		}
	}
	return out
}

func short(ids []string) string {
	if len(ids) > 5 {
		return strings.Join(ids[:5], ", ") + fmt.Sprintf(" and %d more", len(ids)-5)
	}
	return strings.Join(ids, ", ")
}
