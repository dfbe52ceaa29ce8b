//go:build tools

// Package tools pins dependencies that later work uses before any code imports them.
package tools

import (
	_ "github.com/chromedp/chromedp"
	_ "github.com/go-viper/mapstructure/v2"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/knadh/koanf/parsers/yaml"
	_ "github.com/knadh/koanf/providers/env"
	_ "github.com/knadh/koanf/providers/file"
	_ "github.com/knadh/koanf/v2"
	_ "github.com/lestrrat-go/jwx/v2/jwk"
	_ "github.com/lestrrat-go/jwx/v2/jwt"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/redis/go-redis/v9"
	_ "golang.org/x/crypto/bcrypt"
	_ "golang.org/x/time/rate"
	_ "k8s.io/api/apps/v1"
	_ "sigs.k8s.io/yaml"
)
