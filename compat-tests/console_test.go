package compat

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consoleShotDir is where TestConsoleInBrowser writes its screenshots:
// $SAMSA_CONSOLE_SHOTS, else .cache/console-screenshots in the repository.
func consoleShotDir(t *testing.T) string {
	dir := os.Getenv("SAMSA_CONSOLE_SHOTS")
	if dir == "" {
		abs, err := filepath.Abs(filepath.Join("..", ".cache", "console-screenshots"))
		if err != nil {
			t.Fatal(err)
		}
		dir = abs
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chromiumPath finds Debian's Chromium (make test's set-up installs it).
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: install it with 'apt-get install chromium' (make compat-setup-chromium does)")
	return ""
}

// TestConsoleInBrowser drives the console in a real headless Chromium:
// every page opens, a topic is created and a record produced through the
// UI, the record is found in the message browser, and a consumer group's
// lag shown by the UI drops to zero once a consumer catches up. Checks read
// the DOM's text; each page's screenshot goes to consoleShotDir.
func TestConsoleInBrowser(t *testing.T) {
	s := StartSamsa(t)
	base := "http://" + s.AdminAddr
	shots := consoleShotDir(t)

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(alloc)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// waitText waits until the element's text contains want.
	waitText := func(sel, want string) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		var got string
		for time.Now().Before(deadline) {
			qctx, cancel := context.WithTimeout(ctx, time.Second)
			text, err := chromedp.Run(qctx, chromedp.Text(chromedp.CSS(sel)))
			cancel()
			if err == nil {
				got = text
			}
			if err == nil && strings.Contains(got, want) {
				return got
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s never showed %q; last text: %q", sel, want, got)
		return ""
	}
	shot := func(name string) {
		t.Helper()
		run("settle", chromedp.Sleep(300*time.Millisecond))
		// No page may show the console's error panel (a failed API call or
		// a script error while rendering).
		errText, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			`(document.getElementById("page-error") || {textContent: ""}).textContent`))
		if err != nil {
			t.Fatalf("%s: reading the error panel: %v", name, err)
		}
		if errText != "" {
			t.Errorf("%s page shows an error: %q", name, errText)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(shots, name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	goTo := func(hash string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf("location.hash = %q", hash))); err != nil {
			t.Fatalf("open %s: %v", hash, err)
		}
	}

	// Overview: the cluster with this broker as controller.
	run("open the console", chromedp.Navigate(base+"/"))
	waitText("#stat-brokers", "1")
	waitText("#brokers-table", "controller")
	waitText("#ready-badge", "ready")
	shot("overview")

	// Create a topic through the UI.
	goTo("#/topics")
	waitText("#topics-table", "")
	run("fill the create form",
		chromedp.Click(chromedp.CSS("#create-topic-open")),
		chromedp.WaitVisible(chromedp.CSS("#create-topic-name")),
		chromedp.SendKeys(chromedp.CSS("#create-topic-name"), "ui-orders"),
		chromedp.SetValue(chromedp.CSS("#create-topic-partitions"), "3"),
		chromedp.Click(chromedp.CSS("#create-topic-submit")))
	table := waitText("#partitions-table", "2") // the topic page, partitions 0..2
	if !strings.Contains(table, "0") || !strings.Contains(table, "1") {
		t.Errorf("partitions table: %q", table)
	}
	shot("topic")
	goTo("#/topics")
	waitText("#topics-table", "ui-orders")
	shot("topics")

	// Produce a record through the UI and find it in the message browser.
	goTo("#/topics/ui-orders?tab=messages")
	run("fill the produce form",
		chromedp.WaitVisible(chromedp.CSS("#produce-value")),
		chromedp.SetValue(chromedp.CSS("#produce-partition"), "1"),
		chromedp.SendKeys(chromedp.CSS("#produce-key"), "order-42"),
		chromedp.SendKeys(chromedp.CSS("#produce-value"), `{"id":42,"item":"book"}`),
		chromedp.SendKeys(chromedp.CSS("#produce-headers"), "source=ui"),
		chromedp.Click(chromedp.CSS("#produce-submit")))
	waitText("#produce-result", "Produced to partition 1 at offset 0")
	waitText("#messages-table", "order-42")
	run("search by substring",
		chromedp.SendKeys(chromedp.CSS("#browse-search"), "book"),
		chromedp.Click(chromedp.CSS("#browse-load")))
	waitText("#browse-status", "1 records matching")
	run("open the record", chromedp.Click(chromedp.CSS("#messages-table tr.msg-row")))
	value := waitText("#messages-table pre.msg-value", `"id": 42`) // pretty-printed JSON
	if !strings.Contains(value, `"item": "book"`) {
		t.Errorf("record value shown as %q", value)
	}
	waitText("#messages-table", "source = ui")
	shot("messages")

	// A consumer group behind by the one record, then caught up.
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs := kadm.Offsets{}
	for p := int32(0); p < 3; p++ {
		offs.Add(kadm.Offset{Topic: "ui-orders", Partition: p, At: 0, LeaderEpoch: -1})
	}
	if _, err := kadm.NewClient(cl).CommitOffsets(ctx, "ui-readers", offs); err != nil {
		t.Fatal(err)
	}
	goTo("#/groups")
	waitText("#groups-table", "ui-readers")
	shot("groups")
	goTo("#/groups/ui-readers")
	waitText("#group-lag", "1")
	waitText("#offsets-table", "ui-orders")

	// Let the lag history (sampled every 2 s) hold the lag for a while, so
	// the chart shows it drop.
	time.Sleep(4500 * time.Millisecond)
	consumer, err := kgo.NewClient(kgo.SeedBrokers(s.Addr), kgo.ConsumerGroup("ui-readers"),
		kgo.ConsumeTopics("ui-orders"), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	for got := 0; got < 1; {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("the consumer read nothing before the deadline")
		}
		got += fs.NumRecords()
		if err := consumer.CommitRecords(ctx, fs.Records()...); err != nil {
			t.Fatal(err)
		}
	}
	waitText("#group-lag", "0") // the page refreshes its lag every 2 s
	if text := waitText("#group-lag", "0"); strings.TrimSpace(text) != "0" {
		t.Errorf("lag after the consumer caught up: %q", text)
	}
	time.Sleep(2500 * time.Millisecond) // a history sample after the catch-up
	shot("group")
}
